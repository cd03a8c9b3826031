// The app module `polyloop serve` runs in every loop: the files of one directory, and /healthz.
import type { LoopInfo } from '../concurrency/loop.js';
import { httpApp, type HttpApp } from '../protocol/http/server.js';
import { router } from '../protocol/http/router.js';
import { serveStatic } from '../protocol/http/static.js';

export default function staticSite(loop: LoopInfo): HttpApp {
  const { root } = loop.args as { root: string };
  return httpApp(
    router()
      .get('/healthz', (_req, res) => res.send('ok'))
      .get('/*', serveStatic('/', root)),
  );
}
