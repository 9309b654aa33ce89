/**
 * The worker on Node in its own process, so its CPU is measured (and profiled) apart from the clients.
 * Usage: node bench/processes/worker.ts [PROFILE.cpuprofile], configured by the environment as worker/node.ts.
 */
import { startNodeWorker } from "../../worker/node.ts";
import { serveUntilStopped } from "./lifecycle.ts";

const worker = await startNodeWorker(process.env);
serveUntilStopped({ url: worker.url, port: worker.port }, () => worker.close(), process.argv[2]);
