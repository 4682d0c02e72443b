// The lecture page: joins a room through the Lectern client SDK over the
// example's ws signaling and shows the stage (a tile per participant with its
// microphone state), the controls (mute, camera, transcription, raise hand,
// leave, end lecture), the participant list, the hand-raise queue, live
// captions under the stage, the live transcript with downloads, and the
// summary at the end.
//
// URL: /?room=demo&role=lecturer|student&name=Ada[&peer=id][&mic=on|off][&gestures=on]
//   mic: whether the microphone is live on join (default: on for the lecturer,
//   off for students, so a room of students does not start with open mics).
// Joining: the page asks the app's /api/join (the demo's stand-in for an LMS,
// which decides the role: here from the URL, in a real LMS from its own
// session) for an access token, then opens /ws?token=…; the server takes
// room, identity, role, name and grants from the verified token only. An LTI
// launch (server/lti/) lands on /?room=…#lti=<code> instead: the page trades
// the one-time code for its token at /lti/session (the reply, not the URL,
// says who joins which room as what).
import {
  LectureClient,
  LecternClientError,
  type ConnectionState,
  type LocalTrackPublication,
} from '@lectern/client-sdk';
import type { LectureSummary, PeerRole, TranscriptEntry } from '@lectern/protocol';
import { confirmWith } from './confirm-dialog.js';
import { CaptionBar } from './captions.js';
import { $, element, isBusy, setBusy } from './dom.js';
import { PageGestures } from './gestures.js';
import { renderHandQueue } from './hand-queue.js';
import type { LecturePageHooks } from './hooks.js';
import { renderParticipants } from './participant-list.js';
import { participantsOf, stageOrder } from './participants.js';
import { ServerDownloads } from './server-downloads.js';
import { showSessionEnd, type SessionEnd } from './session-end.js';
import { WsSignaling } from './signaling.js';
import { TileGrid } from './tiles.js';
import { TranscriptionControl } from './transcription-control.js';
import { TranscriptView } from './transcript-view.js';

/** The socket close code the app server uses when the lecturer ends the lecture. */
const LECTURE_ENDED_CLOSE_CODE = 4000;
/** The socket close code for "this peer connected again elsewhere". */
const REPLACED_CLOSE_CODE = 4409;
/** The socket close code for "a lecturer removed this peer". */
const REMOVED_CLOSE_CODE = 4001;

const params = new URLSearchParams(location.search);
const hooks: LecturePageHooks = {
  state: 'joining',
  inboundBytes: async () => ({ audio: 0, video: 0 }),
  startGestures: async () => undefined,
  addTranscript: () => undefined,
};
window.lectern = hooks;

function showError(error: unknown): void {
  const message = error instanceof LecternClientError ? `${error.code}: ${error.message}`
    : error instanceof Error ? error.message
      : isServerError(error) ? `${error.code}: ${error.message}` : String(error);
  $('#error').textContent = message;
}

function isServerError(value: unknown): value is { code: string; message: string } {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string' && typeof (value as { message?: unknown }).message === 'string';
}

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  disconnected: 'disconnected',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  failed: 'connection failed',
  closed: 'closed',
};

function setConnection(state: ConnectionState | 'left' | 'ended'): void {
  $('#connection').dataset.state = state;
  $('#connection-text').textContent = state === 'left' ? 'left' : state === 'ended' ? 'lecture ended' : CONNECTION_TEXT[state];
}

interface Identity {
  room: string;
  role: PeerRole;
  name: string;
  peerId: string;
  micOnJoin: boolean;
  /** A token the page already holds (an LTI launch's); otherwise /api/join mints one. */
  token?: string;
}

function identityFromUrl(): Identity | undefined {
  const room = params.get('room');
  const role = params.get('role');
  const name = params.get('name');
  if (!room || !name || (role !== 'lecturer' && role !== 'student')) return undefined;
  const mic = params.get('mic');
  return {
    room,
    role,
    name,
    peerId: params.get('peer') ?? `${role}-${crypto.randomUUID().slice(0, 8)}`,
    micOnJoin: mic === 'on' || mic === 'off' ? mic === 'on' : role === 'lecturer',
  };
}

/**
 * After an LTI launch: the fragment's one-time code exchanged (once) for the
 * access token. The fragment is removed first, so a reload, a copied URL or
 * the history hold no code.
 */
async function identityFromLtiLaunch(): Promise<Identity | undefined> {
  const code = new URLSearchParams(location.hash.slice(1)).get('lti');
  if (!code) return undefined;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  const response = await fetch('/lti/session', { method: 'POST', body: new URLSearchParams({ code }), cache: 'no-store', headers: { Accept: 'application/json' } });
  const body = (await response.json()) as { token?: string; roomId?: string; peerId?: string; role?: string; name?: string; error?: { code: string; message: string } };
  const { token, roomId, peerId, role, name } = body;
  if (!response.ok || !token || !roomId || !peerId || !name || (role !== 'lecturer' && role !== 'student')) {
    throw body.error ?? new Error(`the LTI launch failed: HTTP ${response.status}`);
  }
  return { room: roomId, role, name, peerId, micOnJoin: role === 'lecturer', token };
}

/** The access token for `me`, from the app's /api/join (in a real deployment: from the LMS). */
async function fetchJoinToken(me: Identity): Promise<{ token: string }> {
  const query = new URLSearchParams({ room: me.room, role: me.role, name: me.name, peer: me.peerId });
  const response = await fetch(`/api/join?${query}`, { cache: 'no-store' });
  const body = (await response.json()) as { token?: string; error?: { code: string; message: string } };
  if (!response.ok || typeof body.token !== 'string') throw body.error ?? new Error(`joining failed: HTTP ${response.status}`);
  return { token: body.token };
}

function showJoinForm(): void {
  const form = $<HTMLFormElement>('#join-form');
  form.hidden = false;
  // The same defaults as the URL: lecturers start with the microphone on, students muted.
  const role = form.elements.namedItem('role') as HTMLSelectElement;
  const mic = form.elements.namedItem('mic') as HTMLInputElement;
  role.addEventListener('change', () => (mic.checked = role.value === 'lecturer'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    location.search = new URLSearchParams({
      room: String(data.get('room')),
      role: String(data.get('role')),
      name: String(data.get('name')),
      mic: mic.checked ? 'on' : 'off',
    }).toString();
  });
}

async function main(): Promise<void> {
  const me = (await identityFromLtiLaunch()) ?? identityFromUrl();
  if (me) await runLecture(me);
  else showJoinForm();
}

/** The lecture page proper, for someone the URL identifies. */
async function runLecture(me: Identity): Promise<void> {
  document.body.dataset.role = me.role;
  for (const el of document.querySelectorAll<HTMLElement>(me.role === 'lecturer' ? '[data-student]' : '[data-lecturer]')) el.hidden = true;
  $('#room-label').textContent = `room ${me.room} · ${me.name} (${me.role})`;
  $('#lecture').hidden = false;

  const transcript = new TranscriptView($('#transcript'), {
    txt: $<HTMLButtonElement>('#download-txt'),
    vtt: $<HTMLButtonElement>('#download-vtt'),
    hint: $('#download-hint'),
  }, me.room);
  hooks.addTranscript = (entries) => transcript.add(entries);
  const transcriptLog = $('#transcript');
  const captions = new CaptionBar(
    $('#captions'),
    { finals: $('#caption-finals'), partial: $('#caption-partial') },
    $<HTMLButtonElement>('#captions-toggle'),
    // While the bar shows, it announces each final: the panel would repeat the same words (and
    // then their batch replacement), so its announcements pause and resume with the bar.
    (shown) => transcriptLog.setAttribute('aria-live', shown ? 'off' : 'polite'),
  );

  $('#connection').hidden = false;
  setConnection('connecting');
  const { token } = me.token ? { token: me.token } : await fetchJoinToken(me);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const signaling = new WsSignaling(`${scheme}://${location.host}/ws?${new URLSearchParams({ token })}`);
  await signaling.opened;
  const client = new LectureClient({ request: signaling.request });
  const tiles = new TileGrid($('#grid'));
  const transcription = new TranscriptionControl(
    $<HTMLButtonElement>('#transcription'),
    $('#transcription-state'),
    (method) => signaling.request(method),
    showError,
    async () => (await signaling.request<{ running: boolean }>('getTranscriptionState')).running,
  );

  // The lecturer's server-side exports of the current or last lecture, with a fresh token per
  // download (the join token expires after minutes; the lecture may run for hours).
  const serverDownloads = new ServerDownloads(
    $('#server-downloads'),
    { vtt: $<HTMLButtonElement>('#server-vtt'), srt: $<HTMLButtonElement>('#server-srt'), liveVtt: $<HTMLButtonElement>('#server-live-vtt') },
    async () => (await fetchJoinToken(me)).token,
    showError,
  );
  if (me.role === 'lecturer') {
    void signaling.request<{ lectureId?: string }>('getTranscriptionState').then(({ lectureId }) => serverDownloads.lecture(lectureId), () => undefined);
  }

  let mic: LocalTrackPublication | undefined;
  let cam: LocalTrackPublication | undefined;
  const gestures = new PageGestures(client, $('#gesture-status'), showError, () => cam?.track);

  // --- how the session ends (once): left, ended by the lecturer, replaced, or lost
  let over: SessionEnd | undefined;
  function endSession(kind: SessionEnd): void {
    if (over) return;
    over = kind;
    hooks.state = kind === 'ended' ? 'ended' : kind === 'left' ? 'left' : 'error';
    setConnection(kind === 'ended' ? 'ended' : kind === 'left' ? 'left' : 'disconnected');
    gestures.stop();
    client.close();
    showSessionEnd(kind);
  }
  function lectureEnded(summary?: LectureSummary): void {
    if (summary) showSummary(summary, true);
    endSession('ended');
    // The server closes every socket of the room after roomClosed; close ours if it does not.
    setTimeout(() => signaling.close(), 10_000);
  }

  signaling.onNotification = (notification, data) => {
    if (notification === 'transcript') transcript.add((data as { entries: TranscriptEntry[] }).entries);
    else if (notification === 'summary') {
      // The live captions' summary comes first and a batch one follows; a batch one is final.
      const { summary, source } = data as { summary: LectureSummary; source?: string };
      showSummary(summary, source !== 'live');
      // The live one comes while the last batches are still being transcribed: not done yet.
      if (source !== 'live') transcription.summaryArrived();
    }
    else if (notification === 'transcription') {
      const { state, lectureId, summary } = data as { state: string; lectureId?: string; summary?: LectureSummary };
      transcription.serverSays(state === 'running');
      if (state === 'running') captions.available();
      // The summary that stands (the live one when no batch one could be made).
      if (state === 'stopped' && summary) showSummary(summary, true);
      if (me.role === 'lecturer') serverDownloads.lecture(lectureId);
    }
    else {
      client.handleNotification(notification, data);
      if (notification === 'roomClosed') lectureEnded();
    }
  };
  signaling.onClose = (code) => {
    if (code === LECTURE_ENDED_CLOSE_CODE) lectureEnded();
    else endSession(code === REPLACED_CLOSE_CODE ? 'replaced' : code === REMOVED_CLOSE_CODE ? 'removed' : 'lost');
  };
  // A lecturer removed this peer (the socket closes with 4001 right after).
  client.on('removed', () => endSession('removed'));

  // --- people: tiles and the participant list, derived from the client's view of the room
  function refreshPeople(): void {
    if (over) return;
    const people = participantsOf({
      local: { peerId: me.peerId, name: me.name, role: me.role, micPaused: mic?.paused },
      remotePeers: client.remotePeers.values(),
      handQueue: client.handQueue,
    });
    tiles.sync(stageOrder(people));
    renderParticipants($('#participants'), $('#participant-count'), people);
  }
  client.on('connectionStateChanged', ({ state, reason }) => {
    if (over) return;
    setConnection(state);
    if (reason === 'room-closed') lectureEnded();
  });
  client.on('error', showError);
  client.on('caption', (caption) => {
    const final = captions.apply(caption);
    if (final) transcript.addLive([final]);
  });
  for (const change of ['peerJoined', 'peerLeft', 'trackPublished', 'trackUnpublished', 'trackMuted', 'trackUnmuted'] as const) {
    client.on(change, refreshPeople);
  }
  client.on('trackSubscribed', ({ remoteTrack }) => tiles.attach(remoteTrack.peerId, remoteTrack.producerId, remoteTrack.kind, remoteTrack.track));
  client.on('trackUnsubscribed', ({ producerId }) => tiles.detach(producerId));
  client.on('activeSpeaker', ({ peerId }) => tiles.speaking(peerId));
  client.on('handQueueChanged', ({ queue }) => {
    renderQueue(queue);
    refreshPeople();
  });
  refreshPeople();

  // --- hand queue
  const raise = $<HTMLButtonElement>('#raise-hand');
  function renderQueue(queue: typeof client.handQueue): void {
    const answered = me.role === 'lecturer'
      ? (entry: { peerId: string }) => void client.dismissHand(entry.peerId).catch(showError)
      : undefined;
    renderHandQueue($('#hand-queue'), $('#empty-queue'), queue, answered);
    const raised = queue.some((e) => e.peerId === me.peerId);
    raise.textContent = raised ? 'Lower hand' : 'Raise hand';
    raise.setAttribute('aria-pressed', String(raised));
  }
  raise.addEventListener('click', () => {
    const raised = raise.getAttribute('aria-pressed') === 'true';
    void (raised ? client.lowerHand() : client.raiseHand()).catch(showError);
  });
  $('#clear-queue').addEventListener('click', () => void client.clearHandQueue().catch(showError));

  // --- join and publish
  const joinStarted = performance.now();
  await client.join({ displayName: me.name });
  mic = await client.publishMicrophone(undefined, { paused: !me.micOnJoin }).catch((error: unknown) => {
    explainMissing('#mic', 'Microphone unavailable', error);
    return undefined;
  });
  cam = me.role === 'lecturer'
    ? await client.publishCamera().catch((error: unknown) => {
      explainMissing('#camera', 'Camera unavailable', error);
      return undefined;
    })
    : undefined;
  if (cam?.producerId) tiles.attach(me.peerId, cam.producerId, 'video', cam.track, true);
  setUpMediaButton('#mic', 'microphone', mic, { live: 'Mute', paused: 'Unmute' });
  setUpMediaButton('#camera', 'camera', cam, { live: 'Camera off', paused: 'Camera on' });
  refreshPeople();
  renderQueue(await client.getHandQueue());
  const running = (await signaling.request<{ running: boolean }>('getTranscriptionState')).running;
  transcription.serverSays(running);
  if (running) {
    captions.available();
    // Joining mid-lecture: the batches so far, and the live captions' finals beyond them.
    const { entries, live } = await signaling.request<{ entries: TranscriptEntry[]; live?: TranscriptEntry[] }>('getTranscript');
    transcript.add(entries);
    transcript.addLive(live ?? []);
  }
  // Joined and set up (published, queue and transcription state loaded): what the tests wait for.
  if (!over) hooks.state = 'joined';

  /** A control for something that could not be published: say why instead of a silent grey button. */
  function explainMissing(selector: string, label: string, error: unknown): void {
    const button = $<HTMLButtonElement>(selector);
    button.disabled = true;
    button.removeAttribute('aria-pressed');
    button.textContent = label;
    const note = $('#media-note');
    note.hidden = false;
    note.append(element('span', { text: `${label}: ${error instanceof Error ? error.message : String(error)}. ` }));
    showError(error);
  }

  /** Mute / camera toggles: aria-pressed is "paused", the text names what a click does. */
  function setUpMediaButton(
    selector: string,
    source: 'microphone' | 'camera',
    publication: LocalTrackPublication | undefined,
    text: { live: string; paused: string },
  ): void {
    if (!publication) return;
    const button = $<HTMLButtonElement>(selector);
    const render = () => {
      button.setAttribute('aria-pressed', String(publication.paused));
      button.textContent = publication.paused ? text.paused : text.live;
    };
    render();
    // A lecturer muted (or closed) this track: the publication says so; the button follows.
    client.on('mutedByHost', ({ source: muted, closed }) => {
      if (muted !== source) return;
      if (closed) {
        button.disabled = true;
        button.textContent = source === 'microphone' ? 'Microphone closed by the lecturer' : 'Camera closed by the lecturer';
      } else render();
      showError(`The lecturer ${closed ? 'turned off' : 'muted'} your ${source === 'microphone' ? 'microphone' : 'camera'}.`);
      refreshPeople();
    });
    button.disabled = false;
    button.addEventListener('click', () => {
      if (isBusy(button)) return;
      setBusy(button, true, button.textContent ?? '');
      void (publication.paused ? client.resume(source) : client.pause(source))
        .catch(showError)
        .finally(() => {
          setBusy(button, false, '');
          render();
          refreshPeople();
        });
    });
  }

  // --- leave / end lecture
  const leaveButton = $<HTMLButtonElement>('#leave');
  leaveButton.addEventListener('click', () => {
    if (isBusy(leaveButton)) return;
    setBusy(leaveButton, true, 'Leaving…');
    void client.leave()
      .catch(() => undefined) // leaving anyway: closing the socket makes the server drop the peer
      .finally(() => {
        endSession('left');
        signaling.close();
      });
  });
  const endButton = $<HTMLButtonElement>('#end-lecture');
  endButton.addEventListener('click', () => void endLecture());
  async function endLecture(): Promise<void> {
    if (isBusy(endButton) || !(await confirmWith($<HTMLDialogElement>('#end-dialog')))) return;
    setBusy(endButton, true, 'Ending…');
    try {
      const reply = await signaling.request<{ summary?: LectureSummary }>('endLecture');
      lectureEnded(reply.summary);
    } catch (error) {
      if (over) return; // the room closed under the request: the ended view is up already
      showError(error);
      setBusy(endButton, false, 'End lecture');
    }
  }

  installMediaProbes(client, joinStarted);

  // --- gestures
  hooks.startGestures = (source) => gestures.start(source);
  const gesturesBox = $<HTMLInputElement>('#gestures');
  gesturesBox.addEventListener('change', () => {
    if (gesturesBox.checked) void gestures.start().catch(showError);
    else gestures.stop();
  });
  if (params.get('gestures') === 'on') {
    gesturesBox.checked = true;
    void gestures.start().catch(showError);
  }
}

/** For the tests: inbound bytes by kind, and the time from join to the first inbound audio. */
function installMediaProbes(client: LectureClient, joinStarted: number): void {
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
  const probe = setInterval(() => {
    void hooks.inboundBytes().then((b) => {
      if (b.audio > 0 && hooks.firstAudioMs === undefined) {
        hooks.firstAudioMs = Math.round(performance.now() - joinStarted);
        clearInterval(probe);
      }
    });
  }, 25);
  setTimeout(() => clearInterval(probe), 60_000);
}

/**
 * Shows a summary. `final` false: made from the live captions, the batch
 * transcript's summary follows and replaces it; a final one made from the
 * live captions is said to be so.
 */
function showSummary(summary: LectureSummary, final: boolean): void {
  $('#summary-panel').hidden = false;
  const live = summary.source === 'live';
  $('#summary-panel').dataset.source = live ? 'live' : 'batch';
  $('#summary-panel').dataset.final = String(final);
  $('#summary-source').textContent = !live ? '' : final ? '(from live captions)' : '(from live captions — the final one follows)';
  $('#summary').textContent = summary.text;
  $('#key-points').replaceChildren(...summary.keyPoints.map((point) => element('li', { text: point })));
}

main().catch((error: unknown) => {
  // Ending the session (Leave, the end of the lecture) can cut a join short: that is no failure.
  if (document.body.dataset.session) return;
  hooks.state = 'error';
  setConnection('failed');
  showError(error);
});
