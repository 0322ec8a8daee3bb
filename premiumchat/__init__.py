"""Premium Chat Lobby: a real-time chat-lobby server with a GraphQL API."""

__version__ = "0.1.0"
