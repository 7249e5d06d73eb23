"""The act step: rules turn a submission's matches into a verdict and actions;
webhooks are told through a durable outbox; kept media is encrypted."""
