"""A small GraphQL-over-HTTP client for tests, and the operations they share."""

from __future__ import annotations

from typing import Any

import httpx

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken user { id username email isPremium isStaff } }
}
"""
LOGIN = """
mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { accessToken refreshToken user { id username } }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken user { id } }
}
"""
LOGOUT = "mutation Logout($token: String!) { logout(refreshToken: $token) }"
ME = "query Me { me { id username email isPremium isStaff createdAt } }"

PASSWORD = "testpass123"


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.execute(query, variables, token)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The single error of a failing operation."""
        body = await self.execute(query, variables, token)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error

    async def register(self, username: str, email: str | None = None) -> dict[str, Any]:
        data = await self.data(
            REGISTER,
            {
                "input": {
                    "username": username,
                    "email": email or f"{username}@example.com",
                    "password": PASSWORD,
                    "passwordConfirm": PASSWORD,
                }
            },
        )
        payload: dict[str, Any] = data["register"]
        return payload
