"""What inbound bookings decide, split by concern (the statements are in `app.inbound.repository`).

- `integrations`: managing scheduling integrations.
- `deliveries`: receiving a provider's delivery and processing it into its booking chain.
- `chains`: filing provider events into booking chains, order-independently.
- `reconcile`: making a chain's session match what the provider says now.
- `unmatched`: the human decision on a booking that could not be applied.
"""
