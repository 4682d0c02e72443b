// Prints the root directory of the installed `mediasoup` package (its exports map
// hides package.json, so it is found above the entry point: the directory with
// worker/meson.build). Exits 1 when mediasoup is not installed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

let dir;
try {
  dir = path.dirname(createRequire(path.join(process.cwd(), 'package.json')).resolve('mediasoup'));
} catch {
  process.exit(1);
}
while (!existsSync(path.join(dir, 'worker', 'meson.build'))) {
  if (dir === path.dirname(dir)) process.exit(1);
  dir = path.dirname(dir);
}
console.log(dir);
