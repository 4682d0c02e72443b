// Which SRTP (and DTLS) suite Debian's Chromium negotiates with a Lectern room: the
// premise of the capacity figures' GCM rows and of DEFAULT_LOAD_MODEL (bench/RESULTS.md).
//   bash scripts/run.sh bench/srtp-suite.ts
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { RoomManager } from '@lectern/server-sdk';
import { launchChromium, speak } from '@lectern/testkit';
import { closeAll, openPeerPage, startHarness } from '../packages/client-sdk/test/harness/index.js';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'srtp-suite-'));
const wav = path.join(dir, 'a.wav');
await speak('Testing the SRTP suite.', wav);
const manager = await RoomManager.create({ workers: { numWorkers: 1 } });
const harness = await startHarness(manager);
const browser = await launchChromium({ fakeAudioWav: wav });
const page = await openPeerPage(browser, harness, { room: 'r', peer: 'p', role: 'lecturer' }, {});
const result = await page.page.evaluate(async () => {
  const client = window.lecternTest.client!;
  await client.join({});
  const mic = await client.publishMicrophone();
  await new Promise((r) => setTimeout(r, 2000));
  const out: Record<string, unknown>[] = [];
  (await mic.getStats()).forEach((s: Record<string, unknown>) => {
    if (s.type === 'transport') out.push({ srtpCipher: s.srtpCipher, dtlsCipher: s.dtlsCipher, tlsVersion: s.tlsVersion, dtlsRole: s.dtlsRole });
  });
  return out;
});
console.log(JSON.stringify(result));
await closeAll([page]);
await browser.close();
await harness.close();
manager.close();
await fs.rm(dir, { recursive: true, force: true });
