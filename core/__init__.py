"""What every process needs: config, paths, clock, events, child processes, service discovery, OS locks,
logging, local secrets, the version. What only the desktop processes need is in desktop/."""
