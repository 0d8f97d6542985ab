"""`fleet app list|get|diff|sync|history|rollback`: Applications on the hub, as `argocd app` does.

`commands` declares the arguments (cheap to import: every `fleet` run builds the whole parser);
`handlers` runs them against the hub; `views` formats; `operation` requests and awaits syncs;
`livediff` compares Git with a member cluster.
"""
