/** A tool as tools/list carries it: only the keys the MCP spec defines. */
export interface ListedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: { type?: string; properties?: Record<string, { enum?: unknown[] }> };
  outputSchema?: unknown;
  annotations?: unknown;
}

export interface ListSize {
  tools: number;
  /** Each value of a tool's `action` (or `operation`) argument counts once; a tool without one counts once. */
  operations: number;
  /** The whole `{"tools": [...]}` answer. */
  bytes: number;
  /**
   * What reaches the model: name, description and input schema. Chat APIs take only these for a tool
   * (Anthropic's `input_schema`, OpenAI's `parameters`); title, annotations and output schema stay with the client.
   */
  modelBytes: number;
}

const SELECTORS = ["action", "operation"];

export function operationsOf(tool: ListedTool): number {
  const properties = tool.inputSchema.properties ?? {};
  const selector = SELECTORS.map((key) => properties[key]).find((p) => Array.isArray(p?.enum));
  return selector?.enum?.length ?? 1;
}

export function listSize(tools: ListedTool[]): ListSize {
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  return {
    tools: tools.length,
    operations: tools.reduce((n, t) => n + operationsOf(t), 0),
    bytes: bytes({ tools }),
    modelBytes: bytes(tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }))),
  };
}
