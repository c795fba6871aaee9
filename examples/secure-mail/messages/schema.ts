/**
 * The messages service keeps metadata and content in two separate database files: who
 * wrote to whom and until when is never stored next to what was written, and the content
 * file holds only ciphertext and wrapped keys. The subject is content: it is sealed under
 * the message's data key with the body and stored beside it, never in the metadata.
 */
export const METADATA_SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  read_once INTEGER NOT NULL CHECK (read_once IN (0, 1)),
  -- sending: saga not finished (invisible); active: visible; consumed: read once (invisible, awaiting deletion)
  state TEXT NOT NULL CHECK (state IN ('sending', 'active', 'consumed'))
);
CREATE TABLE IF NOT EXISTS recipients (
  message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  recipient TEXT NOT NULL,
  read_at INTEGER,
  PRIMARY KEY (message_id, recipient)
);
CREATE INDEX IF NOT EXISTS recipients_by_recipient ON recipients (recipient);
CREATE INDEX IF NOT EXISTS messages_by_sender ON messages (sender);
CREATE TABLE IF NOT EXISTS sagas (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'compensating', 'completed', 'compensated')),
  steps_done TEXT NOT NULL,
  input TEXT NOT NULL,
  error TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sagas_open ON sagas (state);
-- The last purge of each mailbox: a send begun at or before it (still in flight then) must not complete.
CREATE TABLE IF NOT EXISTS purges (
  subject TEXT PRIMARY KEY,
  purged_at INTEGER NOT NULL
);
`;

export const CONTENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS contents (
  message_id TEXT PRIMARY KEY,
  iv BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  tag BLOB NOT NULL,
  wrapped_key BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  -- The sealed subject (same data key, AAD secure-mail/subject/<id>). NULL only in a row from
  -- before subjects were sealed, until subject-migration.ts has sealed its plain-text subject.
  subject_iv BLOB,
  subject_ciphertext BLOB,
  subject_tag BLOB
);
`;
