"""fleet's kind harness: everything built from package registries into .cache/kind, a private
Docker engine, kind clusters, and the shared scenario run against them. See e2e/README.md."""
