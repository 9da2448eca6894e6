// An application written with upstream SLIM's own SDK (@agntcy/slim-bindings,
// upstream's Rust core behind a Node.js binding), driven by
// test_upstream.py. One process plays one role; it prints one JSON object
// per line on stdout ("ready", "recv", "done", "error", ...) so that the
// test can check what arrived, and exits 0 only when its role finished.
//
// Roles:
//   receiver     subscribe to --name, accept one point-to-point session,
//                read --count messages and answer each with "ack:<payload>"
//   sender       open a point-to-point session to --to, send --count
//                messages, read the answer to each
//   moderator    create a group session on --channel, invite --invite
//                (comma separated), send "start", then --count messages,
//                read --expect messages from the others
//   participant  accept a group session, wait for "start" from the
//                moderator, send --count messages, read --expect messages
//
// With --commands the moderator, once done, reads commands from stdin, one
// a line: "remove NAME" (removes the member, prints "removed" and the
// member list) and "close" (closes the group, prints "closed", exits).
// With --until-end a participant, once done, keeps reading until its
// session ends and prints "ended" with the error that ended it (a message
// instead is printed as "extra").
//   server       upstream's node: runServer on --listen, optionally
//                connect to --dial; runs until SIGTERM
//
// The SDK is imported from SLIM_UPSTREAM_MODULES (the node_modules folder
// that install.sh filled), so this file can live outside it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.SLIM_UPSTREAM_MODULES;
if (!modules) {
    console.error('SLIM_UPSTREAM_MODULES is not set (the node_modules folder of the SDK)');
    process.exit(2);
}
const slim = (
    await import(pathToFileURL(path.join(modules, '@agntcy/slim-bindings/index.js')).href)
).default;

const SECRET = 'interop-shared-secret-of-at-least-32-chars';

function parseArgs(argv) {
    const out = { role: argv[0], count: 5, expect: 0, mls: false, headerMac: false, invite: [],
                  commands: false, untilEnd: false };
    for (let i = 1; i < argv.length; i++) {
        const key = argv[i];
        const val = argv[i + 1];
        switch (key) {
            case '--name': out.name = val; i++; break;
            case '--to': out.to = val; i++; break;
            case '--channel': out.channel = val; i++; break;
            case '--server': out.server = val; i++; break;
            case '--listen': out.listen = val; i++; break;
            case '--dial': out.dial = val; i++; break;
            case '--count': out.count = Number(val); i++; break;
            case '--expect': out.expect = Number(val); i++; break;
            case '--invite': out.invite = val.split(',').filter((s) => s); i++; break;
            case '--mls': out.mls = true; break;
            case '--commands': out.commands = true; break;
            case '--until-end': out.untilEnd = true; break;
            case '--header-mac': out.headerMac = val === 'on'; i++; break;
            default: throw new Error(`unknown argument ${key}`);
        }
    }
    return out;
}

// Node exits once nothing is pending; an interval keeps the process (and the
// SDK's threads) alive until the test sends SIGTERM.
function forever() {
    setInterval(() => {}, 1000);
    return new Promise(() => {});
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function describe(err) {
    if (err?.inner?.message) return `${err.tag}: ${err.inner.message}`;
    if (err?.tag) return `${err.tag}: ${JSON.stringify(err.inner ?? err)}`;
    return err?.message ?? String(err);
}

function nameOf(text) {
    const p = text.split('/');
    if (p.length !== 3) throw new Error(`a name is org/namespace/service, got ${text}`);
    return new slim.Name(p[0], p[1], p[2]);
}

function nameText(n) {
    return n.components().join('/');
}

// With the MAC on, the SDK's defaults are kept (require_header_mac: true);
// off is set explicitly.
function clientConfig(endpoint, headerMac) {
    const cfg = slim.newInsecureClientConfig(endpoint);
    if (!headerMac)
        cfg.requireHeaderMac = false;
    return cfg;
}

async function connectApp(args) {
    slim.initializeWithDefaults();
    const service = slim.getGlobalService();
    const name = nameOf(args.name);
    const app = service.createAppWithSecret(name, SECRET);
    const conn = await service.connectAsync(clientConfig(args.server, args.headerMac));
    await app.subscribeAsync(name, conn);
    emit({ event: 'connected', name: args.name, id: app.id(), conn: Number(conn) });
    return { app, conn };
}

async function receive(session, timeoutMs) {
    const msg = await session.getMessageAsync(timeoutMs);
    return {
        from: nameText(msg.context.sourceName),
        payload: Buffer.from(msg.payload).toString('utf-8'),
        context: msg.context,
    };
}

async function receiver(args) {
    const { app } = await connectApp(args);
    emit({ event: 'ready' });
    const session = await app.listenForSessionAsync(30000);
    emit({ event: 'session', from: nameText(session.source()), type: session.sessionType() });
    for (let i = 0; i < args.count; i++) {
        const m = await receive(session, 20000);
        emit({ event: 'recv', from: m.from, payload: m.payload });
        await session.publishToAndWaitAsync(m.context, Buffer.from(`ack:${m.payload}`),
                                            undefined, undefined);
    }
    // The sender closes the session once it has every answer.
    emit({ event: 'done' });
}

async function sender(args) {
    const { app, conn } = await connectApp(args);
    const peer = nameOf(args.to);
    app.setRoute(peer, conn);
    const config = slim.SessionConfig.create({
        sessionType: slim.SessionType.PointToPoint,
        maxRetries: 5,
        interval: 1000,
        metadata: new Map(),
        mlsSettings: args.mls
            ? slim.MlsSettings.create({ headerIntegrityValidationPercent: 100 })
            : undefined,
    });
    const session = await app.createSessionAndWaitAsync(config, peer);
    emit({ event: 'session', to: args.to });
    for (let i = 0; i < args.count; i++) {
        const payload = `msg ${i} from ${args.name}`;
        await session.publishAndWaitAsync(Buffer.from(payload), undefined, undefined);
        const m = await receive(session, 20000);
        emit({ event: 'recv', from: m.from, payload: m.payload });
    }
    await (await app.deleteSessionAsync(session)).waitAsync();
    emit({ event: 'done' });
}

function groupConfig(args) {
    return slim.SessionConfig.create({
        sessionType: slim.SessionType.Group,
        maxRetries: 5,
        interval: 1000,
        metadata: new Map(),
        mlsSettings: args.mls
            ? slim.MlsSettings.create({ headerIntegrityValidationPercent: 100 })
            : undefined,
    });
}

// Reads until `want` data messages (not "start") have arrived.
async function collect(session, want, seen) {
    while (seen.length < want) {
        const m = await receive(session, 30000);
        if (m.payload === 'start') continue;
        emit({ event: 'recv', from: m.from, payload: m.payload });
        seen.push(m);
    }
}

async function publishAll(session, args) {
    for (let i = 0; i < args.count; i++)
        await session.publishAndWaitAsync(Buffer.from(`msg ${i} from ${args.name}`),
                                          undefined, undefined);
}

async function moderator(args) {
    const { app, conn } = await connectApp(args);
    const channel = nameOf(args.channel);
    const session = await app.createSessionAndWaitAsync(groupConfig(args), channel);
    for (const who of args.invite) {
        const n = nameOf(who);
        app.setRoute(n, conn);
        await session.inviteAndWaitAsync(n);
        emit({ event: 'invited', name: who });
    }
    const members = (await session.participantsListAsync()).map((p) => nameText(p.name));
    emit({ event: 'members', names: members.sort() });
    await session.publishAndWaitAsync(Buffer.from('start'), undefined, undefined);
    const seen = [];
    await publishAll(session, args);
    await collect(session, args.expect, seen);
    emit({ event: 'done' });
    if (args.commands)
        return commands(app, session);
    // Stay in the group until the participants have read everything; the
    // test ends this process.
    await forever();
}

async function memberNames(session) {
    return (await session.participantsListAsync()).map((p) => nameText(p.name)).sort();
}

// The moderator's commands from stdin (--commands), one a line, run in
// order; "close" is the last.
async function commands(app, session) {
    const readline = await import('node:readline');
    const lines = readline.createInterface({ input: process.stdin });
    for await (const line of lines) {
        const [cmd, arg] = line.trim().split(/\s+/);
        if (cmd === 'remove') {
            await session.removeAndWaitAsync(nameOf(arg));
            emit({ event: 'removed', name: arg });
            emit({ event: 'members', names: await memberNames(session) });
        } else if (cmd === 'close') {
            await (await app.deleteSessionAsync(session)).waitAsync();
            emit({ event: 'closed' });
            return;
        } else if (cmd) {
            throw new Error(`unknown command '${line}'`);
        }
    }
    throw new Error('stdin ended before "close"');
}

// A participant's wait for the end of its session (--until-end): every
// message that still comes is printed as "extra"; the error that ends the
// reading (the session closed, or removed) as "ended".
async function untilEnd(session) {
    const deadline = Date.now() + 60000;
    for (;;) {
        let m;
        try {
            m = await receive(session, 60000);
        } catch (err) {
            if (err?.tag === 'Timeout' || Date.now() >= deadline)
                throw err;
            emit({ event: 'ended', error: describe(err) });
            return;
        }
        emit({ event: 'extra', from: m.from, payload: m.payload });
    }
}

async function participant(args) {
    const { app } = await connectApp(args);
    emit({ event: 'ready' });
    const session = await app.listenForSessionAsync(60000);
    emit({ event: 'session', channel: nameText(session.destination()) });
    const seen = [];
    for (;;) {
        const m = await receive(session, 30000);
        if (m.payload === 'start') break;
        emit({ event: 'recv', from: m.from, payload: m.payload });
        seen.push(m);
    }
    await publishAll(session, args);
    await collect(session, args.expect, seen);
    emit({ event: 'done' });
    if (args.untilEnd)
        return untilEnd(session);
    await forever();
}

// Upstream's node. Listening alone uses the SDK's runServer. Dialling
// another node as a PEER (so that the two exchange subscriptions without a
// controller) needs `connection_type: peer`, which the SDK's ClientConfig
// does not carry, so then the node is built from upstream's own YAML
// configuration, as upstream's `slim` binary would be.
async function server(args) {
    if (args.dial) {
        const mac = args.headerMac ? 'true' : 'false';
        const yaml = [
            'tracing:',
            '  log_level: info',
            'services:',
            '  slim/0:',
            '    dataplane:',
            '      servers:',
            `        - endpoint: "${args.listen}"`,
            '          tls: { insecure: true }',
            `          require_header_mac: ${mac}`,
            '      clients:',
            `        - endpoint: "${args.dial}"`,
            '          tls: { insecure: true }',
            '          connection_type: peer',
            `          require_header_mac: ${mac}`,
            '',
        ].join('\n');
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slim-upstream-')),
                               'config.yaml');
        fs.writeFileSync(file, yaml);
        slim.initializeFromConfigWithError(file);
    } else {
        slim.initializeWithDefaults();
        const cfg = slim.newInsecureServerConfig(args.listen);
        if (!args.headerMac)
            cfg.requireHeaderMac = false;
        await slim.getGlobalService().runServerAsync(cfg);
    }
    emit({ event: 'ready', listen: args.listen });
    await forever();
}

const roles = { receiver, sender, moderator, participant, server };
const args = parseArgs(process.argv.slice(2));
process.on('SIGTERM', () => process.exit(0));
if (!roles[args.role]) {
    console.error(`usage: upstream_app.mjs ${Object.keys(roles).join('|')} [options]`);
    process.exit(2);
}
try {
    await roles[args.role](args);
    process.exit(0);
} catch (err) {
    emit({ event: 'error', role: args.role, error: describe(err) });
    process.exit(1);
}
