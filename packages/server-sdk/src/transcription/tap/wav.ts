import * as fs from 'node:fs/promises';

/** The PCM layout the tap records: 16 kHz, mono, 16-bit. */
export const TAP_SAMPLE_RATE = 16_000;
export const TAP_CHANNELS = 1;
export const TAP_BYTES_PER_SAMPLE = 2;

export interface WavInfo {
  /** Byte offset of the PCM data. */
  dataOffset: number;
  /** PCM bytes present in the file (what the header says, or what is there after a repair). */
  dataBytes: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Seconds of audio. */
  duration: number;
}

/**
 * Reads a WAV header. FFmpeg writes placeholder sizes first and patches them
 * when the file is closed; a killed FFmpeg leaves them unpatched, so with
 * `repair` the sizes are rewritten from the file's real length (the samples are
 * all there). Returns undefined when the file is not a WAV or holds no audio.
 */
export async function readWav(path: string, options: { repair?: boolean } = {}): Promise<WavInfo | undefined> {
  const handle = await fs.open(path, options.repair ? 'r+' : 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 4096));
    await handle.read(head, 0, head.length, 0);
    if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') return undefined;
    let pos = 12;
    let format: { sampleRate: number; channels: number; bitsPerSample: number } | undefined;
    while (pos + 8 <= head.length) {
      const id = head.toString('ascii', pos, pos + 4);
      const chunkSize = head.readUInt32LE(pos + 4);
      if (id === 'fmt ' && pos + 24 <= head.length) {
        format = { channels: head.readUInt16LE(pos + 10), sampleRate: head.readUInt32LE(pos + 12), bitsPerSample: head.readUInt16LE(pos + 22) };
      } else if (id === 'data') {
        if (!format) return undefined;
        const dataOffset = pos + 8;
        const present = size - dataOffset;
        const blockAlign = (format.channels * format.bitsPerSample) / 8;
        let dataBytes = Math.min(chunkSize, present);
        const unpatched = chunkSize === 0 || chunkSize === 0xffffffff || chunkSize > present;
        if (unpatched && options.repair) {
          dataBytes = present - (present % blockAlign);
          const fix = Buffer.alloc(4);
          fix.writeUInt32LE(dataOffset - 8 + dataBytes);
          await handle.write(fix, 0, 4, 4);
          fix.writeUInt32LE(dataBytes);
          await handle.write(fix, 0, 4, pos + 4);
          if (dataOffset + dataBytes < size) await handle.truncate(dataOffset + dataBytes);
        } else if (unpatched) {
          dataBytes = present - (present % blockAlign);
        }
        if (dataBytes <= 0) return undefined;
        return { dataOffset, dataBytes, ...format, duration: dataBytes / (format.sampleRate * blockAlign) };
      }
      pos += 8 + chunkSize + (chunkSize % 2);
    }
    return undefined;
  } finally {
    await handle.close();
  }
}
