# Sourced by the project's scripts: puts the project-local Node (installed by
# scripts/lib/node.sh when the system's Node is older than 22) first on PATH, so
# `node`, `npm` and `npx` (npm's launcher is `#!/usr/bin/env node`) run on it.
# Expects $ROOT to be the repository root.
LECTERN_NODE_HOME="$ROOT/.tools/node"
if [ -x "$LECTERN_NODE_HOME/bin/node" ]; then
  case ":$PATH:" in
    *":$LECTERN_NODE_HOME/bin:"*) ;;
    *) export PATH="$LECTERN_NODE_HOME/bin:$PATH" ;;
  esac
fi
