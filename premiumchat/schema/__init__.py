"""The GraphQL schema: Strawberry types, inputs, scalars and the Schema object."""
