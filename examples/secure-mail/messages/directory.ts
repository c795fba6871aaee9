/**
 * Who can receive mail: user name ↔ Gatehouse subject ↔ e-mail address. Provisioned by the
 * supervisor from the users it creates in Gatehouse (a file the service only reads).
 * Identity assertions carry the subject only, so user names are resolved here.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

const directorySchema = z.object({
  users: z.array(z.object({
    username: z.string().regex(USERNAME_PATTERN),
    subject: z.string().min(1).max(256),
    email: z.email(),
  }).strict()).max(10_000),
}).strict();

export interface DirectoryEntry { username: string; subject: string; email: string }

export class Directory {
  readonly #byName = new Map<string, DirectoryEntry>();
  readonly #bySubject = new Map<string, DirectoryEntry>();

  constructor(entries: readonly DirectoryEntry[]) {
    for (const e of entries) { this.#byName.set(e.username, e); this.#bySubject.set(e.subject, e); }
  }

  static fromFile(file: string): Directory {
    return new Directory(directorySchema.parse(JSON.parse(readFileSync(file, 'utf8'))).users);
  }

  byUsername(username: string): DirectoryEntry | undefined { return this.#byName.get(username); }
  bySubject(subject: string): DirectoryEntry | undefined { return this.#bySubject.get(subject); }
  /** The user name to show for a subject (the subject itself for someone not listed). */
  nameOf(subject: string): string { return this.#bySubject.get(subject)?.username ?? subject; }
}
