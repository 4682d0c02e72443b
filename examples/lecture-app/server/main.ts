// The demo: `npm run demo` (after setup) starts whisper-api, Redis when
// redis-server is installed (the memory store otherwise), and the lecture app,
// then prints the URL. Open it twice: once as the lecturer, once as a student.
//
//   bash scripts/run.sh examples/lecture-app/server/main.ts [--port 3000]
//   WHISPER_URL=http://... [WHISPER_API_TOKEN=...] REDIS_URL=redis://... to use running services instead.
//   LECTERN_WEBHOOK_URL=https://lms.example.org/hooks LECTERN_WEBHOOK_SECRET=whsec_... to send signed webhooks.
//   LECTERN_DEMO_JOIN=0 (or --no-demo-join) closes /api/join, the demo's pick-your-role join (404).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLectureApp } from './app.js';
import { startRedisIfAvailable, startWhisperApi, type ChildService } from './services.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    host: { type: 'string', default: '127.0.0.1' },
    'demo-join': { type: 'boolean', default: !/^(0|false|off|no)$/i.test(process.env.LECTERN_DEMO_JOIN ?? '') },
  },
  allowNegative: true,
});

const children: ChildService[] = [];

/** Webhooks from the environment only (a secret on the command line is visible in ps): both variables or neither. */
function webhooksFromEnv(): { url: string; secret: string } | undefined {
  const url = process.env.LECTERN_WEBHOOK_URL;
  const secret = process.env.LECTERN_WEBHOOK_SECRET;
  if (!url && !secret) return undefined;
  if (!url || !secret) throw new Error('set both LECTERN_WEBHOOK_URL and LECTERN_WEBHOOK_SECRET (whsec_…, shared with the receiver), or neither');
  return { url, secret };
}

async function main() {
  const webhooks = webhooksFromEnv(); // refused before any service starts
  console.log('starting whisper-api (speech-to-text)…');
  const whisperUrl = process.env.WHISPER_URL ?? (children[children.push(await startWhisperApi(repoRoot)) - 1]!.url);
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const redis = await startRedisIfAvailable();
    if (redis) {
      children.push(redis);
      redisUrl = redis.url;
    }
  }
  const app = await startLectureApp({
    port: Number(values.port),
    host: values.host,
    whisperUrl,
    // A whisper-api elsewhere requires its token (never on the command line: ps shows it).
    ...(process.env.WHISPER_API_TOKEN ? { whisperToken: process.env.WHISPER_API_TOKEN } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    ...(webhooks ? { webhooks } : {}),
    demoJoin: values['demo-join'],
    // Short segments so the live transcript appears within a minute in the demo (production: 30 s × 10).
    transcription: { segmentSeconds: 10, segmentsPerBatch: 2 },
  });
  console.log(`\nLectern lecture app: ${app.url}`);
  if (values['demo-join']) {
    console.log(`  lecturer: ${app.url}/?room=demo&role=lecturer&name=Lecturer`);
    console.log(`  student:  ${app.url}/?room=demo&role=student&name=Student`);
  } else {
    // This script registers no LTI platform: a deployment passes `lti` to startLectureApp (README: LTI 1.3 launch).
    console.log('  /api/join is off: only tokens from an LMS launch join, and this script configures no LTI platform');
  }
  console.log(`  metrics:  ${app.url}/metrics`);
  if (webhooks) console.log(`  webhooks: ${new URL(webhooks.url).origin} (signed)`);
  console.log(`  transcripts in ${redisUrl ? `Redis (${redisUrl})` : 'memory'}; whisper-api at ${whisperUrl}\n  Ctrl+C stops everything.`);
  const stop = async () => {
    console.log('\nstopping…');
    await app.close().catch((e: unknown) => console.error(e));
    await Promise.allSettled(children.map((c) => c.stop()));
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch(async (error: unknown) => {
  console.error(error);
  await Promise.allSettled(children.map((c) => c.stop()));
  process.exit(1);
});
