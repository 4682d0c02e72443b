import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startProcess } from './process.js';

/** Debian's chromium binary (never a downloaded browser). */
export const CHROMIUM_PATH = process.env.LECTERN_CHROMIUM ?? '/usr/lib/chromium/chromium';

export interface LaunchChromiumOptions {
  /** A WAV played as every page's microphone (16 kHz mono flite output works). */
  fakeAudioWav?: string;
  /** A Y4M video used as every page's camera; default: Chromium's own test pattern. */
  fakeVideoY4m?: string;
  /** Show the window (needs a display). Default false. */
  headed?: boolean;
}

/**
 * Launches Debian's Chromium through playwright-core with fake media devices
 * and the flags WebRTC on a loopback-only machine needs. Close it with
 * `browser.close()`.
 */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
    // Without this Chromium looks up Google hosts at start; 127.0.0.1 itself must still resolve.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ];
  if (options.fakeAudioWav) args.push(`--use-file-for-fake-audio-capture=${path.resolve(options.fakeAudioWav)}`);
  if (options.fakeVideoY4m) args.push(`--use-file-for-fake-video-capture=${path.resolve(options.fakeVideoY4m)}`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: !options.headed, args });
}

/** Writes a Y4M test pattern (FFmpeg testsrc) usable as a fake camera. */
export async function testPatternY4m(file: string, options: { seconds?: number; width?: number; height?: number; fps?: number } = {}): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const { seconds = 10, width = 640, height = 480, fps = 15 } = options;
  const ffmpeg = startProcess('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    '-pix_fmt', 'yuv420p', file,
  ]);
  const code = await ffmpeg.exited;
  if (code !== 0) throw new Error(`ffmpeg testsrc failed (${code}): ${ffmpeg.stderr()}`);
  return file;
}
