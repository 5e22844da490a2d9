"""Helpers shared by the test suites, one copy each: ``waiting`` (wait_until), ``processes`` (free_port,
database_url, subprocess_env for child processes), ``mqtt`` and ``amqp`` (publishing), ``fuzz`` (outcome files)."""
