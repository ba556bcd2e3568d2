import { stopAllNatsServers } from './nats-server';

// Safety net for every test file: no nats-server outlives the file that started it.
afterAll(stopAllNatsServers);
