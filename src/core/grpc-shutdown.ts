// Stopping a gRPC server the same way everywhere: let open calls finish, and force the rest after a grace period.

/** The two calls of @grpc/grpc-js's Server this needs (typed structurally, so core imports no gRPC). */
export interface ShutdownableServer {
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/** Resolves once the server has stopped: gracefully, or forced after `graceMs`. */
export function shutdownGrpcServer(server: ShutdownableServer, graceMs = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
