"""Entry points on top of the platform: the CLI, the demo and the local process harness."""
