-- Indexes for DeleteExpired, which runs periodically.
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX grants_created ON grants (created_at);
