-- The MCP profile: a client's OpenID Connect Registration application_type when it
-- registered one (NULL: inferred from its redirect URIs), and, for a client known
-- by its Client ID Metadata Document (its id is the document's URL), when the
-- document was last fetched. Such a row is written when a person first authorizes
-- the client, so consents and token families can refer to it.
ALTER TABLE clients ADD COLUMN application_type TEXT;
ALTER TABLE clients ADD COLUMN document_fetched_at BIGINT;
