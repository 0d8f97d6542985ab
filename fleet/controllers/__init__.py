"""The controllers: ApplicationSets -> Applications on the hub, Applications -> member clusters."""
