/**
 * Real-part helpers for Lectern's tests, examples and benchmarks. Nothing here
 * is a mock: a real WebRTC peer, real FFmpeg, real flite, a real redis-server.
 */
export { freeTcpPort, bindUdp } from './ports.js';
export { startProcess, type OwnedProcess } from './process.js';
export { startRedis, ping as pingRedis, type TestRedis, type StartRedisOptions } from './redis.js';
export { sendOpusRtp, opusRtpParameters, type OpusRtpOptions } from './ffmpeg.js';
export { speak, audioDuration } from './speech.js';
export {
  TestWebRtcPeer,
  isVp8Keyframe,
  type VideoOptions,
  type RemoteTransportInfo,
  type RemoteConsumerInfo,
  type TestPeerSignaling,
  type ReceivingConsumer,
} from './webrtc-peer.js';
export { RoomTestPeer, type RequestFn, type JoinReply } from './room-peer.js';
export { requester, waitFor, workerTotals, type RequestHandler, type WorkerPoolView } from './room-helpers.js';
export { startWhisperApi, type StartWhisperApiOptions, type TestWhisperApi } from './whisper-api.js';
export { LECTURE_TEXT, LECTURE_PARAGRAPHS, normalizeWords, wordErrorRate } from './lecture.js';
export { launchChromium, testPatternY4m, CHROMIUM_PATH, type LaunchChromiumOptions } from './browser.js';
