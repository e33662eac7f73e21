#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ keeps the code it compiled on disk between runs, so a second `nanoclaw sync` starts
// faster. Turned on before anything else loads; Node 20 has no such cache and goes on without it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { runMain } = await import('./run-main.js');
await runMain();
