"""The ways a notification reaches someone: a signed webhook, an email, a Slack message.

Each channel is one module with a pure `compose` (what the delivery will carry, decided when
it is queued) and a sender behind the one `Channel` interface of `base.py`.
"""
