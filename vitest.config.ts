import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Test files run one at a time: many start servers, wrangler and processes, and the machine has 2 cores;
    // timing-sensitive tests (cancel within 1 s, 100 tunnel drops) must not compete with each other.
    fileParallelism: false,
  },
});
