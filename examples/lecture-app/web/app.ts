// The lecture page: joins a room through the Lectern client SDK over the
// example's ws signaling, shows the video grid, mute/camera controls, the live
// transcript, the hand-raise queue (with gestures), and the summary at the end.
//
// URL: /?room=demo&role=lecturer|student&name=Ada[&peer=id][&gestures=on]
import {
  GestureRecognizer,
  LectureClient,
  LecternClientError,
  MediaPipeHandsDetector,
  ScriptedDetector,
  type GestureDetector,
  type HandQueueEntry,
  type RecordedFrame,
  type RemoteTrack,
} from '@lectern/client-sdk';
import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';
import type { LecturePageHooks } from './hooks.js';
import { WsSignaling } from './signaling.js';

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const params = new URLSearchParams(location.search);
const hooks: LecturePageHooks = {
  state: 'joining',
  inboundBytes: async () => ({ audio: 0, video: 0 }),
  startGestures: async () => undefined,
};
window.lectern = hooks;

function showError(error: unknown): void {
  const message = error instanceof LecternClientError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  $('#error').textContent = message;
}

async function main(): Promise<void> {
  const room = params.get('room');
  const role = params.get('role');
  const name = params.get('name');
  if (!room || !name || (role !== 'lecturer' && role !== 'student')) {
    const form = $<HTMLFormElement>('#join-form');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const query = new URLSearchParams({ room: String(data.get('room')), role: String(data.get('role')), name: String(data.get('name')) });
      location.search = query.toString();
    });
    return;
  }
  const peerId = params.get('peer') ?? `${role}-${crypto.randomUUID().slice(0, 8)}`;
  document.body.dataset.role = role;
  for (const el of document.querySelectorAll<HTMLElement>(role === 'lecturer' ? '[data-student]' : '[data-lecturer]')) el.hidden = true;
  $('#room-label').textContent = `room ${room} · ${name} (${role})`;
  $('#lecture').hidden = false;

  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const signaling = new WsSignaling(`${scheme}://${location.host}/ws?${new URLSearchParams({ room, peer: peerId, role })}`);
  await signaling.opened;
  const client = new LectureClient({ request: signaling.request });
  signaling.onNotification = (notification, data) => {
    if (notification === 'transcript') addTranscript((data as { entries: TranscriptEntry[] }).entries);
    else if (notification === 'summary') showSummary((data as { summary: LectureSummary }).summary);
    else if (notification === 'transcription') setTranscriptionState((data as { state: string }).state === 'running');
    else client.handleNotification(notification, data);
  };
  signaling.onClose = () => {
    setConnection('disconnected');
    client.close();
  };

  // --- connection state, peers, tracks
  const setConnection = (state: string) => {
    const badge = $('#connection');
    badge.dataset.state = state;
    badge.textContent = state;
  };
  client.on('connectionStateChanged', ({ state }) => setConnection(state));
  client.on('error', showError);
  client.on('trackSubscribed', ({ remoteTrack }) => attachRemote(remoteTrack));
  client.on('trackUnsubscribed', ({ producerId }) => document.querySelector(`[data-producer="${producerId}"]`)?.remove());
  client.on('trackMuted', ({ peerId: who }) => tile(who).classList.add('muted-peer'));
  client.on('trackUnmuted', ({ peerId: who }) => tile(who).classList.remove('muted-peer'));
  client.on('peerLeft', ({ peerId: who }) => document.getElementById(`tile-${who}`)?.remove());
  client.on('activeSpeaker', ({ peerId: who }) => {
    for (const t of document.querySelectorAll('.tile')) t.classList.toggle('speaking', t.id === `tile-${who}`);
  });
  client.on('handQueueChanged', ({ queue }) => renderQueue(queue));

  function tile(who: string, label?: string): HTMLElement {
    let el = document.getElementById(`tile-${who}`);
    if (!el) {
      el = document.createElement('div');
      el.className = 'tile';
      el.id = `tile-${who}`;
      const caption = document.createElement('span');
      caption.className = 'name';
      caption.textContent = label ?? client.remotePeers.get(who)?.displayName ?? who;
      el.append(caption);
      $('#grid').append(el);
    }
    return el;
  }

  function attachRemote(remote: RemoteTrack): void {
    const el = tile(remote.peerId);
    const media = document.createElement(remote.kind === 'video' ? 'video' : 'audio');
    media.dataset.producer = remote.producerId;
    media.autoplay = true;
    media.setAttribute('playsinline', '');
    media.srcObject = new MediaStream([remote.track]);
    el.prepend(media);
    void media.play().catch(() => undefined);
  }

  // Controls (looked up before join: notifications may render into them at once).
  let handRaised = false;
  const raise = $<HTMLButtonElement>('#raise-hand');
  const micButton = $<HTMLButtonElement>('#mic');
  const camButton = $<HTMLButtonElement>('#camera');
  const transcriptionButton = $<HTMLButtonElement>('#transcription');

  // --- join and publish
  const joinStarted = performance.now();
  await client.join({ displayName: name });
  hooks.state = 'joined';
  const mic = await client.publishMicrophone().catch((error: unknown) => (showError(error), undefined));
  const cam = role === 'lecturer' ? await client.publishCamera().catch((error: unknown) => (showError(error), undefined)) : undefined;
  if (cam) {
    const local = tile(peerId, `${name} (you)`);
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.srcObject = new MediaStream([cam.track]);
    local.prepend(video);
  }
  renderQueue(await client.getHandQueue());
  const state = (await signaling.request<{ running: boolean }>('getTranscriptionState')).running;
  setTranscriptionState(state);
  if (state) addTranscript((await signaling.request<{ entries: TranscriptEntry[] }>('getTranscript')).entries);

  hooks.inboundBytes = async () => {
    const totals = { audio: 0, video: 0 };
    for (const remote of client.remoteTracks.values()) {
      for (const stat of (await remote.getStats()).values()) {
        const s = stat as { type: string; kind?: string; bytesReceived?: number };
        if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.kind === 'video')) totals[s.kind] += s.bytesReceived ?? 0;
      }
    }
    return totals;
  };
  // Time to first audio: join start → first inbound audio bytes of a remote track.
  const probe = setInterval(() => {
    void hooks.inboundBytes().then((b) => {
      if (b.audio > 0 && hooks.firstAudioMs === undefined) {
        hooks.firstAudioMs = Math.round(performance.now() - joinStarted);
        clearInterval(probe);
      }
    });
  }, 25);
  setTimeout(() => clearInterval(probe), 60_000);

  // --- controls
  micButton.disabled = !mic;
  micButton.addEventListener('click', () => void toggle('microphone', micButton, 'Mute', 'Unmute'));
  camButton.disabled = !cam;
  camButton.addEventListener('click', () => void toggle('camera', camButton, 'Camera off', 'Camera on'));
  async function toggle(source: 'microphone' | 'camera', button: HTMLButtonElement, on: string, off: string) {
    const paused = button.getAttribute('aria-pressed') === 'true';
    try {
      await (paused ? client.resume(source) : client.pause(source));
      button.setAttribute('aria-pressed', String(!paused));
      button.textContent = paused ? on : off;
    } catch (error) {
      showError(error);
    }
  }
  transcriptionButton.addEventListener('click', () => {
    const running = transcriptionButton.dataset.running === 'true';
    transcriptionButton.disabled = true;
    signaling
      .request(running ? 'stopTranscription' : 'startTranscription')
      .catch(showError)
      .finally(() => (transcriptionButton.disabled = false));
  });
  function setTranscriptionState(running: boolean) {
    transcriptionButton.dataset.running = String(running);
    transcriptionButton.textContent = running ? 'Stop transcription' : 'Start transcription';
    $('#transcription-state').textContent = running ? '● recording' : '';
  }
  raise.addEventListener('click', () => void (handRaised ? client.lowerHand() : client.raiseHand()).catch(showError));
  $('#clear-queue').addEventListener('click', () => void client.clearHandQueue().catch(showError));

  function renderQueue(queue: readonly HandQueueEntry[]) {
    const list = $('#hand-queue');
    list.replaceChildren(
      ...queue.map((entry) => {
        const li = document.createElement('li');
        li.dataset.peer = entry.peerId;
        const label = document.createElement('span');
        label.textContent = `${entry.displayName ?? entry.peerId}${entry.source === 'gesture' ? ' (gesture)' : ''}`;
        li.append(label);
        if (role === 'lecturer') {
          const dismiss = document.createElement('button');
          dismiss.type = 'button';
          dismiss.textContent = 'Done';
          dismiss.addEventListener('click', () => void client.dismissHand(entry.peerId).catch(showError));
          li.append(dismiss);
        }
        return li;
      }),
    );
    handRaised = queue.some((e) => e.peerId === peerId);
    raise.textContent = handRaised ? 'Lower hand' : 'Raise hand';
    raise.setAttribute('aria-pressed', String(handRaised));
  }

  // --- gestures: MediaPipe on the camera (served by this app), or a recording handed in by a test
  let recognizer: GestureRecognizer | undefined;
  async function startGestures(recording?: readonly RecordedFrame[]): Promise<void> {
    if (recognizer) return;
    let detector: GestureDetector;
    let track: MediaStreamTrack | undefined;
    if (recording) {
      detector = new ScriptedDetector(recording, { mode: 'timestamp', loop: true });
    } else {
      detector = new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/' });
      track = cam?.track ?? (await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })).getVideoTracks()[0];
    }
    recognizer = new GestureRecognizer({ detector, maxFps: recording ? 10 : 3 });
    recognizer.on('gestureStart', (e) => {
      $('#gesture-status').textContent = `${e.gesture} (${Math.round(e.confidence * 100)} %)`;
      void client.sendGesture(e.gesture, 'start', e.confidence).catch(showError);
    });
    recognizer.on('gestureHold', (e) => void client.sendGesture(e.gesture, 'hold', e.confidence).catch(() => undefined));
    recognizer.on('gestureEnd', (e) => {
      $('#gesture-status').textContent = '';
      void client.sendGesture(e.gesture, 'end', e.confidence).catch(() => undefined);
    });
    recognizer.on('error', showError);
    if (track) await recognizer.attach(track);
    else await recognizer.attach(syntheticTrack());
  }
  hooks.startGestures = startGestures;
  const gesturesBox = $<HTMLInputElement>('#gestures');
  gesturesBox.addEventListener('change', () => {
    if (gesturesBox.checked) void startGestures().catch(showError);
    else {
      recognizer?.close();
      recognizer = undefined;
    }
  });
  if (params.get('gestures') === 'on') {
    gesturesBox.checked = true;
    void startGestures().catch(showError);
  }
}

/** A small canvas track to pace a recognizer that replays recorded landmarks. */
function syntheticTrack(): MediaStreamTrack {
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 48;
  const ctx = canvas.getContext('2d')!;
  setInterval(() => ctx.fillRect(0, 0, 1 + Math.random() * 63, 1), 100);
  return canvas.captureStream(10).getVideoTracks()[0]!;
}

// --- transcript and summary (app notifications, not the SDK's)
const shown = new Map<string, HTMLElement>();
function addTranscript(entries: TranscriptEntry[]): void {
  const panel = $('#transcript');
  for (const entry of entries) {
    const key = `${entry.batchId}:${entry.index}`;
    const p = shown.get(key) ?? document.createElement('p');
    const time = document.createElement('time');
    time.textContent = clock(entry.start);
    p.replaceChildren(time, document.createTextNode(entry.text));
    p.dataset.start = String(entry.start);
    if (!shown.has(key)) {
      shown.set(key, p);
      const after = [...panel.children].find((c) => Number((c as HTMLElement).dataset.start) > entry.start);
      panel.insertBefore(p, after ?? null);
    }
  }
  panel.scrollTop = panel.scrollHeight;
}

function showSummary(summary: LectureSummary): void {
  $('#summary-panel').hidden = false;
  $('#summary').textContent = summary.text;
  $('#key-points').replaceChildren(
    ...summary.keyPoints.map((point) => {
      const li = document.createElement('li');
      li.textContent = point;
      return li;
    }),
  );
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

main().catch((error: unknown) => {
  hooks.state = 'error';
  showError(error);
});
