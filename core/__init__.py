"""What every process shares: config, paths, logging, local secrets, event types, child processes."""
