"""Operating paperbot: ``paperbot doctor`` (is the set-up right?) and backups that restore."""
