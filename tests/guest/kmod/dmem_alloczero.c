// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_alloczero: a test-only guest module (benchmarks, not the driver) that
 * times the kernel allocating and zeroing pages of the kind a balloon
 * inflates, with nothing else: no balloon, no host, no page tables.
 *
 *   echo MIB >/sys/kernel/debug/dmem_alloczero   allocate MIB with
 *        balloon_page_alloc() (what virtio_balloon and dmem_balloon use:
 *        order 0, GFP_HIGHUSER_MOVABLE | __GFP_NOMEMALLOC | __GFP_NORETRY |
 *        __GFP_NOWARN; zeroed by the allocator when init_on_alloc is on,
 *        as on Debian kernels), then free it all again (not timed)
 *   cat /sys/kernel/debug/dmem_alloczero         "PAGES NS INIT_ON_ALLOC" of
 *        the last run: pages allocated, nanoseconds the allocation took,
 *        and whether the allocator zeroed them (1) or not (0)
 *
 * The write fails with ENOMEM if not every page could be had.
 */
#include <linux/balloon_compaction.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

static DEFINE_MUTEX(az_lock);
static unsigned long az_pages;
static u64 az_ns;
static struct dentry *az_file;

static ssize_t az_write(struct file *file, const char __user *buf,
			size_t count, loff_t *ppos)
{
	unsigned long mib, want, got = 0;
	struct page *page, *next;
	LIST_HEAD(pages);
	ktime_t t0;
	u64 ns;
	int err;

	err = kstrtoul_from_user(buf, count, 0, &mib);
	if (err)
		return err;
	if (!mib || mib > (totalram_pages() >> (20 - PAGE_SHIFT)))
		return -EINVAL;
	want = mib << (20 - PAGE_SHIFT);

	mutex_lock(&az_lock);
	t0 = ktime_get();
	while (got < want) {
		page = balloon_page_alloc();
		if (!page)
			break;
		list_add(&page->lru, &pages);
		if (!(++got % 256))	/* as often as virtio_balloon can */
			cond_resched();
	}
	ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	list_for_each_entry_safe(page, next, &pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	az_pages = got;
	az_ns = ns;
	mutex_unlock(&az_lock);
	return got == want ? count : -ENOMEM;
}

static ssize_t az_read(struct file *file, char __user *buf, size_t count,
		       loff_t *ppos)
{
	char line[64];
	int len;

	mutex_lock(&az_lock);
	len = scnprintf(line, sizeof(line), "%lu %llu %d\n", az_pages, az_ns,
			want_init_on_alloc(GFP_HIGHUSER_MOVABLE) ? 1 : 0);
	mutex_unlock(&az_lock);
	return simple_read_from_buffer(buf, count, ppos, line, len);
}

static const struct file_operations az_fops = {
	.owner = THIS_MODULE,
	.read = az_read,
	.write = az_write,
	.llseek = default_llseek,
};

static int __init az_init(void)
{
	az_file = debugfs_create_file("dmem_alloczero", 0600, NULL, NULL,
				      &az_fops);
	return 0;
}

static void __exit az_exit(void)
{
	debugfs_remove(az_file);
}

module_init(az_init);
module_exit(az_exit);
MODULE_DESCRIPTION("dmem test: time allocating and zeroing balloon-kind pages");
MODULE_LICENSE("GPL");
