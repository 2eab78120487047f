"""Real-Postfix lab: a private Postfix on loopback that produces real logs with ground truth."""
