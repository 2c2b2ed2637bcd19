/*
 * Benchmark workload: pointer-chasing data structures, `rounds` times (kernel command line
 * rounds=N). Nodes come from a pool and link to each other by pointer: an unbalanced binary
 * search tree (insert, look up, walk in order), a hash table of chained entries (insert, look
 * up, delete every other key by unlinking it), and a singly linked list that is reversed and
 * walked. Loads whose address is the value just loaded, and data-dependent branches. The keys
 * are i * 2654435761 (a bijection of the 32-bit numbers), so the keys of i < KEYS are distinct
 * and those of KEYS <= i < 2 * KEYS are absent; every count and sum is checked.
 */
#include "fw.h"

#define DEFAULT_ROUNDS 33
#define KEYS 4096
#define BUCKETS 512

static inline uint32_t key(uint32_t i) { return i * 2654435761u; }

struct tree {
    struct tree *left, *right;
    uint32_t key;
};

struct entry {
    struct entry *next;
    uint32_t key, value;
};

static struct tree tree_pool[KEYS];
static struct entry entry_pool[KEYS];
static struct entry *buckets[BUCKETS];

static void tree_insert(struct tree **root, struct tree *n)
{
    struct tree **at = root;
    while (*at) at = n->key < (*at)->key ? &(*at)->left : &(*at)->right;
    n->left = n->right = NULL;
    *at = n;
}

static const struct tree *tree_find(const struct tree *t, uint32_t k)
{
    while (t && t->key != k) t = k < t->key ? t->left : t->right;
    return t;
}

/* In order, without recursion: a stack of parents. Counts the nodes, sums their keys, checks the order. */
static uint32_t tree_walk(const struct tree *t, uint32_t *sum)
{
    const struct tree *stack[64];
    uint32_t depth = 0, count = 0, last = 0;
    *sum = 0;
    while (t || depth) {
        while (t) {
            if (depth == 64) fw_fail("pointers: the tree is deeper than 64");
            stack[depth++] = t;
            t = t->left;
        }
        t = stack[--depth];
        if (count > 0 && t->key <= last) fw_fail("pointers: the tree's walk is out of order at key 0x%08x", t->key);
        last = t->key;
        count++;
        *sum += t->key;
        t = t->right;
    }
    return count;
}

static inline uint32_t bucket(uint32_t k) { return (k ^ (k >> 15)) % BUCKETS; }

static struct entry *table_find(uint32_t k)
{
    struct entry *e = buckets[bucket(k)];
    while (e && e->key != k) e = e->next;
    return e;
}

static int table_delete(uint32_t k)
{
    for (struct entry **at = &buckets[bucket(k)]; *at; at = &(*at)->next)
        if ((*at)->key == k) {
            *at = (*at)->next;
            return 1;
        }
    return 0;
}

struct result {
    uint32_t found, sum, remaining, list;
};

static void round_(struct result *r)
{
    /* The tree. */
    struct tree *root = NULL;
    for (uint32_t i = 0; i < KEYS; i++) {
        tree_pool[i].key = key(i);
        tree_insert(&root, &tree_pool[i]);
    }
    r->found = 0;
    for (uint32_t i = 0; i < 2 * KEYS; i++) {
        const struct tree *t = tree_find(root, key(i));
        if ((t != NULL) != (i < KEYS)) fw_fail("pointers: key %u %s in the tree", i, t ? "found" : "not found");
        r->found += t != NULL;
    }
    uint32_t walked = tree_walk(root, &r->sum);
    if (walked != KEYS) fw_fail("pointers: %u nodes in the tree, expected %u", walked, KEYS);

    /* The hash table: insert, look up, delete the even keys, look up again. */
    memset(buckets, 0, sizeof buckets);
    for (uint32_t i = 0; i < KEYS; i++) {
        struct entry *e = &entry_pool[i];
        e->key = key(i);
        e->value = i;
        e->next = buckets[bucket(e->key)];
        buckets[bucket(e->key)] = e;
    }
    for (uint32_t i = 0; i < 2 * KEYS; i++) {
        struct entry *e = table_find(key(i));
        if (i < KEYS ? !e || e->value != i : e != NULL) fw_fail("pointers: key %u wrong in the hash table", i);
    }
    for (uint32_t i = 0; i < KEYS; i += 2)
        if (!table_delete(key(i))) fw_fail("pointers: key %u could not be deleted from the hash table", i);
    r->remaining = 0;
    for (uint32_t i = 0; i < KEYS; i++) r->remaining += table_find(key(i)) != NULL;

    /* A list through the remaining entries, reversed twice, then walked. */
    struct entry *list = NULL;
    for (uint32_t b = 0; b < BUCKETS; b++)
        for (struct entry *e = buckets[b]; e;) {
            struct entry *next = e->next;
            e->next = list;
            list = e;
            e = next;
        }
    for (int pass = 0; pass < 2; pass++) {
        struct entry *reversed = NULL;
        while (list) {
            struct entry *next = list->next;
            list->next = reversed;
            reversed = list;
            list = next;
        }
        list = reversed;
    }
    r->list = 0;
    for (struct entry *e = list; e; e = e->next) r->list += e->value;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t sum = 0, odd = 0;
    for (uint32_t i = 0; i < KEYS; i++) {
        sum += key(i);
        if (i & 1) odd += i;
    }
    struct result r = { 0 };
    for (uint32_t k = 0; k < rounds; k++) {
        round_(&r);
        if (r.found != KEYS || r.sum != sum || r.remaining != KEYS / 2 || r.list != odd)
            fw_fail("pointers: found %u, key sum 0x%08x, %u left, list sum %u (expected %u, 0x%08x, %u, %u)",
                r.found, r.sum, r.remaining, r.list, KEYS, sum, KEYS / 2, odd);
        fw_round_done(k + 1);
    }
    fw_printf("pointers: %u keys found in the tree, key sum 0x%08x, %u left in the hash table, list sum %u; %u rounds\n",
        r.found, r.sum, r.remaining, r.list, rounds);
    return FW_EXIT_PASS;
}
