// Files of a backup set: owner-only directories and files, SHA-256 of what was written, the set's directory name.
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A file of the set as the manifest lists it: path relative to the set's directory, size and SHA-256. */
export interface FileEntry {
  path: string;
  bytes: number;
  sha256: string;
}

/** Creates a directory (and parents) readable by the owner only; an existing one is narrowed to 0700. */
export function ownerOnlyDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** Writes a file readable by the owner only. */
export function writeOwnerOnly(file: string, content: string | Buffer): void {
  ownerOnlyDir(path.dirname(file));
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest entry of a file the set holds. */
export async function fileEntry(setDir: string, file: string): Promise<FileEntry> {
  chmodSync(file, 0o600);
  return {
    path: path.relative(setDir, file).split(path.sep).join('/'),
    bytes: statSync(file).size,
    sha256: await sha256File(file),
  };
}

/** `20261202T001530Z`: the set's directory name, sortable, from a UTC instant. */
export function backupId(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
