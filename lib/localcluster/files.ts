import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Writes `content` unless the file already holds exactly that. Components watch their configuration files
 * (kube-proxy exits when its file is written, containerd reloads CNI configuration), so a second `up` must not touch
 * them. Returns whether it wrote.
 */
export function writeIfChanged(file: string, content: string, mode?: number): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === content) {
    if (mode !== undefined) chmodSync(file, mode);
    return false;
  }
  writeFileSync(file, content, mode === undefined ? undefined : { mode });
  if (mode !== undefined) chmodSync(file, mode);
  return true;
}
