// The architecture's import rules, checked by `npm test` (scripts/test.sh runs
// `depcruise` over every package's src/). Type-only imports count: a cycle
// through types is still a cycle for whoever reads or moves the code.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'One direction of data: no module may (transitively) import itself.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-is-the-bottom',
      severity: 'error',
      comment: '@lectern/protocol is the wire: it depends on no other Lectern package.',
      from: { path: '^packages/protocol/src' },
      to: { path: '^packages/(server-sdk|client-sdk|stt-adapter|testkit)/' },
    },
    {
      name: 'client-bundle-has-no-validator-or-server',
      severity: 'error',
      comment: 'The browser bundle imports neither the server SDK nor the schemas subpath (zod).',
      from: { path: '^packages/client-sdk/src' },
      to: { path: '^packages/(server-sdk|stt-adapter|testkit)/|^packages/protocol/src/schemas/|node_modules/(zod|mediasoup)/' },
    },
    {
      name: 'rooms-do-not-load-transcription',
      severity: 'error',
      comment: 'A host that only wants rooms loads none of the transcription pipeline (ioredis, openai, execa).',
      from: { path: '^packages/server-sdk/src', pathNot: '^packages/server-sdk/src/(transcription|webhooks)/' },
      to: { path: '^packages/server-sdk/src/transcription/|node_modules/(ioredis|openai|execa)/' },
    },
    {
      name: 'webhooks-see-only-transcription-events',
      severity: 'error',
      comment: 'The webhook sender forwards the transcription service\'s events: it may import their types (events.ts, a leaf) and nothing else of the pipeline.',
      from: { path: '^packages/server-sdk/src/webhooks/' },
      to: { path: '^packages/server-sdk/src/transcription/|node_modules/(ioredis|openai|execa)/', pathNot: '^packages/server-sdk/src/transcription/events\\.ts$' },
    },
    {
      name: 'stt-adapter-stands-alone',
      severity: 'error',
      comment: 'stt-adapter depends on nothing of ours.',
      from: { path: '^packages/stt-adapter/src' },
      to: { path: '^packages/(server-sdk|client-sdk|protocol|testkit)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve workspace packages to their TypeScript sources, as the repository runs them.
    enhancedResolveOptions: { conditionNames: ['lectern-source', 'import', 'types', 'default'], exportsFields: ['exports'] },
    exclude: { path: '(^|/)(dist|test)/' },
  },
};
