"""User sessions over RabbitMQ."""
