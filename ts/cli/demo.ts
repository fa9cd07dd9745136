export async function run(a: string[]): Promise<number> { void a; return 1; }
