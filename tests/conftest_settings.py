"""Constants the fixtures and the server processes share."""

TEST_SECRET_KEY = "test-secret-key-for-the-test-suite-only-0123456789"
