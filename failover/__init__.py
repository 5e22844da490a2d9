"""Multi-region failover."""
