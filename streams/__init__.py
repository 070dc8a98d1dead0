"""Thin wiring of the insights domain to Kafka: the faust app, topics, agents, and the local broker launcher."""
