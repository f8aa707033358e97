/** A server that can be started and closed (the API server, a worker's metrics/health server). */
export interface ListeningServer {
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
}

/** Starts `server`; when it cannot listen (a taken port), closes what it opened and rethrows. */
export async function listenOrClose<S extends ListeningServer>(
  server: S,
): Promise<{ server: S; url: string }> {
  try {
    const { url } = await server.listen();
    return { server, url };
  } catch (e) {
    await server.close().catch(() => {});
    throw e;
  }
}
