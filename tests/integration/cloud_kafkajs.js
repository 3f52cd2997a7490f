// kafkajs against ferry-cloud (run by 36-cloud-kafkajs.sh): an lz4 producer (codec from the lz4js package),
// then a consumer group of two members that together read every record exactly as produced.
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');
const lz4 = require('lz4js');

CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress(encoder) { return Buffer.from(lz4.compress(encoder.buffer)); },
  async decompress(buffer) { return Buffer.from(lz4.decompress(buffer)); },
});

const broker = process.argv[2];
const N = 1000;
const kafka = new Kafka({ clientId: 'kjs', brokers: [broker], logLevel: logLevel.NOTHING });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'js', numPartitions: 2 }] });
  await admin.disconnect();

  // The group first (both members assigned a partition), then the records, so that both members read.
  const seen = new Map();
  const members = new Set();
  const assigned = new Set();
  const consumers = [0, 1].map(() => kafka.consumer({ groupId: 'g-js', sessionTimeout: 6000, heartbeatInterval: 500 }));
  for (const [i, c] of consumers.entries()) {
    c.on(c.events.GROUP_JOIN, (e) => {
      const a = e.payload.memberAssignment.js || [];
      if (a.length) assigned.add(i); else assigned.delete(i);
    });
    await c.connect();
    await c.subscribe({ topic: 'js', fromBeginning: true });
    await c.run({ eachMessage: async ({ partition, message }) => {
      seen.set(message.value.toString(), partition);
      members.add(i);
    } });
  }
  const joined = Date.now() + 30000;
  while (assigned.size < 2 && Date.now() < joined) await new Promise((r) => setTimeout(r, 100));
  if (assigned.size < 2) throw new Error('the two members were not both assigned partitions');

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let b = 0; b < N; b += 100) {
    const messages = [];
    for (let i = b; i < b + 100; i++) messages.push({ key: 'k' + (i % 7), value: 'js-' + i });
    await producer.send({ topic: 'js', compression: CompressionTypes.LZ4, acks: -1, messages });
  }
  await producer.disconnect();

  const deadline = Date.now() + 60000;
  while (seen.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const c of consumers) await c.disconnect();
  if (seen.size !== N) throw new Error(`consumed ${seen.size} of ${N}`);
  for (let i = 0; i < N; i++) if (!seen.has('js-' + i)) throw new Error('missing js-' + i);
  if (members.size !== 2) throw new Error(`only ${members.size} member(s) consumed`);
  console.log('kafkajs: ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
