import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

// `npm run dev` serves on 8100 like the original app and forwards /api to a local API.
const apiTarget = process.env.API_PROXY_TARGET ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [preact()],
  server: {
    host: '127.0.0.1',
    port: 8100,
    strictPort: true,
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
  preview: { host: '127.0.0.1', port: 8100, strictPort: true, proxy: { '/api': apiTarget } },
  // Source maps only on request (SOURCEMAP=true): the bucket behind CloudFront is public.
  build: { outDir: 'dist', sourcemap: process.env.SOURCEMAP === 'true', target: 'es2022' },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
  },
});
