// Imported first by the commands that stream millions of ids (scripts/consistency.ts), before the modules that make
// up most of the heap. The check's live data is a few pages, but the process starts with ~110 MB of live modules
// (the target drivers and their Terraform provider bindings), and V8's default growth then lets the garbage of
// finished pages pile up to several hundred MB before a full collection. Growing the heap by 10% per collection keeps
// the peak near the live size, for a few more (short) collections. Process-wide: only an entry point sets it.
import v8 from 'node:v8';

/** V8's old-generation growth per full collection, in percent of the live size. */
export const HEAP_GROWING_PERCENT = 10;

v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
