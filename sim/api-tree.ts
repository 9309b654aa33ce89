/** The API viewer's tree (pve-apidoc.json, pbs-apidoc.json), as the schema importers read it. */
export interface TreeNode {
  path: string;
  info?: Record<string, { parameters?: Record<string, unknown>; description?: string }>;
  children?: TreeNode[];
}

/** Every node of the tree by its path. */
export function indexTree(nodes: TreeNode[], into: Map<string, TreeNode> = new Map()): Map<string, TreeNode> {
  for (const node of nodes) {
    into.set(node.path, node);
    if (node.children) indexTree(node.children, into);
  }
  return into;
}
