"""What operators are told: the health of every endpoint and of the processing."""
