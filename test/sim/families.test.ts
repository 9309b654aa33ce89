import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { firewallOf } from "../../sim/firewall.ts";
import { guestAgentOf } from "../../sim/guest-agent.ts";
import { haOf } from "../../sim/ha.ts";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator();
});
afterAll(async () => {
  await c.close();
});
const ro = () => ({ auth: c.sim.readonlyToken.header });

describe("firewall", () => {
  it("lists rules with position and one digest, and refuses a stale digest like PVE", async () => {
    const rules = (await c.call("GET", "/cluster/firewall/rules")).json.data;
    expect(rules.map((r: { pos: number }) => r.pos)).toEqual([0, 1, 2, 3]);
    expect(new Set(rules.map((r: { digest: string }) => r.digest)).size).toBe(1);
    const stale = await c.call("DELETE", "/cluster/firewall/rules/0?digest=0123");
    expect(stale.status).toBe(500);
    expect(stale.json.message).toBe("detected modified configuration - file changed by other user? Try again.\n");
    const gone = await c.call("DELETE", "/nodes/pve2/firewall/rules/5");
    expect(gone.json.message).toBe("no rule at position 5\n");
  });

  it("creates disabled rules unless enable is given, and checks ports, protocols, macros and groups", async () => {
    expect((await c.call("POST", "/nodes/pve2/firewall/rules", { form: { type: "out", action: "REJECT", proto: "udp", dport: "53" } })).status).toBe(200);
    expect(firewallOf(c.sim.state).hosts.get("pve2")!.rules[0]).toMatchObject({ type: "out", action: "REJECT", enable: 0 });
    const bad = async (form: Record<string, string>) => (await c.call("POST", "/cluster/firewall/rules", { form: { type: "in", action: "ACCEPT", ...form } })).json.errors;
    expect(await bad({ proto: "tcp", dport: "1:99999" })).toEqual({ dport: "invalid format - invalid port '99999'\n" });
    expect(await bad({ proto: "tcp", dport: "90:80" })).toEqual({ dport: "invalid format - backwards range '90:80' not allowed, did you mean '80:90'?\n" });
    expect(await bad({ proto: "bogus" })).toEqual({ proto: "invalid format - unknown protocol 'bogus'\n" });
    expect(await bad({ source: "10.0.0.300" })).toEqual({ source: "invalid format - invalid IP address: 10.0.0.300\n" });
    expect(await bad({ macro: "Telnet" })).toEqual({ macro: "unknown macro 'Telnet'" });
    expect(await bad({ proto: "icmp", dport: "22" })).toEqual({ dport: "protocol 'icmp' does not support ports" });
    const group = await c.call("POST", "/cluster/firewall/rules", { form: { type: "group", action: "nosuch" } });
    expect(group.json.errors).toEqual({ action: "security group 'nosuch' does not exist" });
  });

  it("needs Sys.Modify to change the cluster firewall", async () => {
    const res = await c.call("POST", "/cluster/firewall/rules", { ...ro(), form: { type: "in", action: "ACCEPT", macro: "SSH" } });
    expect(res.status).toBe(403);
    expect(res.json.message).toBe("Permission check failed (/, Sys.Modify)\n");
  });
});

describe("HA and replication", () => {
  it("reports quorum loss and fences the services of a dead node", async () => {
    c.sim.setNodeOnline("pve2", false);
    c.sim.setNodeOnline("pve3", false);
    try {
      const rows = (await c.call("GET", "/cluster/ha/status/current")).json.data;
      expect(rows[0]).toEqual({ id: "quorum", type: "quorum", node: "pve1", status: "No quorum on node 'pve1'!", quorate: 0 });
      expect(rows.find((r: { id: string }) => r.id === "service:ct:201")).toMatchObject({ node: "pve2", state: "fence", request_state: "started" });
    } finally {
      c.sim.setNodeOnline("pve2", true);
      c.sim.setNodeOnline("pve3", true);
    }
  });

  it("reads one HA resource, by sid or bare vmid, and says when there is none", async () => {
    expect((await c.call("GET", "/cluster/ha/resources/201")).json.data).toMatchObject({ sid: "ct:201", type: "ct" });
    expect((await c.call("GET", "/cluster/ha/resources/vm:105")).json.message).toBe("no such resource 'vm:105'\n");
    expect((await c.call("GET", "/cluster/ha/resources/x:1")).json.message).toBe("no such resource 'x:1'\n");
    expect((await c.call("GET", "/cluster/ha/resources/vm-100")).json.errors).toEqual({ sid: "invalid format - value does not look like a valid ha resource id\n" });
  });

  it("lists a node's replication jobs with their state; a job's status only on its guest's node", async () => {
    const jobs = (await c.call("GET", "/nodes/pve2/replication")).json.data;
    expect(jobs).toEqual([expect.objectContaining({ id: "102-0", source: "pve2", target: "pve3", fail_count: 0, vmtype: "qemu" })]);
    expect((await c.call("GET", "/nodes/pve2/replication/102-0/status")).json.data).toMatchObject({ id: "102-0" });
    expect((await c.call("GET", "/nodes/pve1/replication/102-0/status")).json.message).toBe("no such replication job '102-0'\n");
    expect((await c.call("GET", "/cluster/replication/102-9")).json.message).toBe("no such replication job '102-9'\n");
  });

  it("writes replication jobs with VM.Replicate on the guest, and runs a scheduled job a moment later", async () => {
    const denied = await c.call("POST", "/cluster/replication", { form: { id: "203-0", type: "local", target: "pve3" }, ...ro() });
    expect(denied.status).toBe(403);
    expect(denied.json.message).toBe("Permission check failed (/vms/203, VM.Replicate)\n");
    expect((await c.call("POST", "/cluster/replication", { form: { id: "203-0", type: "local", target: "pve3", rate: "10" } })).status).toBe(200);
    const job = () => haOf(c.sim.state).replication.find((j) => j.id === "203-0");
    expect(job()).toMatchObject({ guest: 203, jobnum: 0, target: "pve3", rate: 10, lastSync: 0 });
    await vi.waitFor(() => expect(job()!.lastSync).toBeGreaterThan(0));
    expect((await c.call("GET", "/cluster/replication/203-0")).json.data).toMatchObject({ id: "203-0", type: "local", guest: 203, source: "pve2", rate: 10 });
    const deleteTarget = await c.call("PUT", "/cluster/replication/203-0", { form: { delete: "target" } });
    expect(deleteTarget.json.message).toBe("unable to delete required option 'target'\n");
    expect((await c.call("PUT", "/cluster/replication/203-0", { form: { disable: "1", delete: "rate" } })).status).toBe(200);
    expect(job()).toMatchObject({ disable: true });
    expect(job()!.rate).toBeUndefined();
    expect((await c.call("POST", "/nodes/pve2/replication/203-0/schedule_now")).status).toBe(200);
    expect(job()!.lastTry).toBe(0);
    // pvescheduler skips a disabled job, even one marked for removal.
    expect((await c.call("DELETE", "/cluster/replication/203-0")).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    expect(job()).toMatchObject({ removeJob: "full", lastTry: 0 });
    expect((await c.call("PUT", "/cluster/replication/203-0", { form: { delete: "disable" } })).status).toBe(200);
    await vi.waitFor(() => expect(job()).toBeUndefined());
  });
});

describe("node system views", () => {
  it("journal is framed by cursors and honours lastentries and cursors", async () => {
    const lines = (await c.call("GET", "/nodes/pve1/journal?lastentries=3")).json.data as string[];
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^s=[0-9a-f]{32};i=/);
    const after = (await c.call("GET", `/nodes/pve1/journal?startcursor=${encodeURIComponent(lines[4])}`)).json.data as string[];
    expect(after.length).toBeLessThanOrEqual(3);
  });

  it("needs Sys.Syslog for the journal and Sys.Modify for apt updates", async () => {
    expect((await c.call("GET", "/nodes/pve1/syslog", ro())).json.message).toBe("Permission check failed (/nodes/pve1, Sys.Syslog)\n");
    expect((await c.call("GET", "/nodes/pve1/apt/update", ro())).json.message).toBe("Permission check failed (/nodes/pve1, Sys.Modify)\n");
    expect((await c.call("GET", "/nodes/pve1/services", ro())).status).toBe(200);
  });

  it("starts, stops, restarts and reloads services as srv* tasks, refusing what PVE refuses", async () => {
    const run = async (node: string, service: string, action: string) => {
      const res = await c.call("POST", `/nodes/${node}/services/${service}/${action}`);
      expect(res.json.data, JSON.stringify(res.json)).toMatch(new RegExp(`^UPID:${node}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:srv${action}:${service}:root@pam!mcp:$`));
      const status = await c.waitTask(node, res.json.data);
      const log = (await c.call("GET", `/nodes/${node}/tasks/${encodeURIComponent(res.json.data)}/log`)).json.data.map((l: { t: string }) => l.t);
      return { exitstatus: status.exitstatus, log };
    };
    const state = async (node: string, service: string) => (await c.call("GET", `/nodes/${node}/services/${service}/state`)).json.data;
    expect(await run("pve2", "cron", "stop")).toEqual({ exitstatus: "OK", log: ["TASK OK"] });
    expect(await state("pve2", "cron")).toMatchObject({ state: "dead", "active-state": "inactive" });
    expect(await state("pve1", "cron")).toMatchObject({ state: "running" });
    await run("pve2", "cron", "reload");
    expect(await state("pve2", "cron")).toMatchObject({ state: "dead" });
    await run("pve2", "cron", "restart");
    expect(await state("pve2", "cron")).toMatchObject({ state: "running", "active-state": "active" });
    await run("pve3", "ksmtuned", "start");
    expect((await c.call("GET", "/nodes/pve3/services")).json.data.find((s: { service: string }) => s.service === "ksmtuned")).toMatchObject({ state: "running" });
    expect(await run("pve1", "pveproxy", "stop")).toMatchObject({ exitstatus: "invalid service cmd 'pveproxy stop': refusing to stop essential service!" });
    expect(await state("pve1", "pveproxy")).toMatchObject({ state: "running" });
    expect(await run("pve1", "systemd-timesyncd", "start")).toEqual({
      exitstatus: "command 'systemctl start systemd-timesyncd' failed: exit code 1",
      log: ["Failed to start systemd-timesyncd.service: Unit systemd-timesyncd.service is masked.", "TASK ERROR: command 'systemctl start systemd-timesyncd' failed: exit code 1"],
    });
    expect((await c.call("POST", "/nodes/pve1/services/nginx/start")).json.errors).toEqual({ service: expect.stringContaining("value 'nginx' does not have a value in the enumeration") });
    expect((await c.call("POST", "/nodes/pve1/services/cron/stop", ro())).json.message).toBe("Permission check failed (/nodes/pve1, Sys.Modify)\n");
  });

  it("validates the SMART disk path with PVE's pattern", async () => {
    const res = await c.call("GET", "/nodes/pve1/disks/smart?disk=sda");
    expect(res.json.errors).toEqual({ disk: "value does not match the regex pattern" });
  });
});

describe("access", () => {
  it("shows an auditor every user, tokens only with full=1, and no ACL it may not modify", async () => {
    const users = (await c.call("GET", "/access/users", ro())).json.data;
    expect(users.map((u: { userid: string }) => u.userid)).toEqual(["readonly@pve", "root@pam"]);
    expect(users[0].tokens).toBeUndefined();
    expect((await c.call("GET", "/access/acl", ro())).json.data).toEqual([]);
  });
});

describe("guest agent", () => {
  it("answers only for a running VM with the agent enabled and responding", async () => {
    expect((await c.call("POST", "/nodes/pve1/qemu/100/agent/ping")).json.data).toEqual({ result: {} });
    expect((await c.call("POST", "/nodes/pve2/qemu/100/agent/ping")).json.message).toBe("Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist\n");
    c.sim.state.guests.get(100)!.config.agent = "enabled=0";
    expect((await c.call("POST", "/nodes/pve1/qemu/100/agent/ping")).json.message).toBe("QEMU guest agent is not enabled\n");
    c.sim.state.guests.get(100)!.config.agent = "1";
    guestAgentOf(c.sim.state, 100).down = true;
    expect((await c.call("POST", "/nodes/pve1/qemu/100/agent/ping")).json.message).toBe("QEMU guest agent is not running\n");
    guestAgentOf(c.sim.state, 100).down = false;
  });

  it("needs the guest-agent privileges PVE 9 checks", async () => {
    expect((await c.call("GET", "/nodes/pve1/qemu/100/agent/get-osinfo", ro())).status).toBe(200);
    const write = await c.call("POST", "/nodes/pve1/qemu/100/agent/file-write", { ...ro(), form: { file: "/tmp/x", content: "x" } });
    expect(write.json.message).toBe("Permission check failed (/vms/100, VM.GuestAgent.FileWrite|VM.GuestAgent.Unrestricted)\n");
  });
});
