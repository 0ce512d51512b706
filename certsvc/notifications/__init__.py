"""Messages to holders (SMS-style), sent through a pluggable sender from an outbox table."""
